// Types of scripts/build-dashboard.mjs for the TypeScript callers (tests, bench).
export declare const dashboardOut: string;
export declare function dashboardIsStale(): boolean;
export declare function buildDashboard(): Promise<number>;
