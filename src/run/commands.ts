// Command ids of the run page (its plugin is ./plugin.tsx).
export const OPEN_RUN = 'orchestrate:open-run';
