/** What a bare process of bench/agent-floor.ts does each second. */
export const FLOOR_MODES = ['timer', 'facts', 'keepalive', 'facts_then_keepalive', 'same_tick'] as const;
export type FloorMode = (typeof FLOOR_MODES)[number];
