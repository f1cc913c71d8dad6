// Types of graph.js for the labextension, which bundles this very file (src/mime/) to draw
// saved run graphs with the inline widget's renderer.
export interface GraphModelLike {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: () => void): void;
  off(event: string, callback: () => void): void;
}

export function formatDuration(seconds: number | null | undefined): string;
export function nodeDetail(node: Record<string, unknown>, elapsed?: number): string;

declare const view: {
  render(options: { model: GraphModelLike; el: HTMLElement }): () => void;
};
export default view;
