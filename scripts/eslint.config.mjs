// Development tooling, never shipped: n8n's community-node rules (no process, timers, console,
// file system) are for the node itself. tsc --strict (npm run typecheck) checks this code.
export default [{ ignores: ['**'] }];
