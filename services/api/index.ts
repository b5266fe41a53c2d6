export { buildApi } from './app.ts';
export type { ApiContext } from './context.ts';
