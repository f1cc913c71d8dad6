import { LabIcon } from '@jupyterlab/ui-components';

// Three nodes and two edges: a run graph, drawn in the theme's icon colour.
const ORCHESTRATE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="4" width="7" height="5" rx="1.5"/>
    <rect x="2" y="15" width="7" height="5" rx="1.5"/>
    <rect x="15" y="9.5" width="7" height="5" rx="1.5"/>
    <path d="M9 6.5h2.5a1.5 1.5 0 0 1 1.5 1.5v3h2v2h-2v3a1.5 1.5 0 0 1-1.5 1.5H9v-2h2v-3.5a0 0 0 0 1 0 0V8.5H9z"/>
  </g>
</svg>`;

export const orchestrateIcon = new LabIcon({ name: 'orchestrate-nb:icon', svgstr: ORCHESTRATE_SVG });
