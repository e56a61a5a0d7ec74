export declare const DEFAULT_MEMORY_MB: number;
export declare const MIN_MEMORY_MB: number;
export declare const DEFAULT_SEMI_SPACE_MB: number;
export declare function parseMemoryMb(text: string | undefined): number | null;
export declare function v8FlagsFor(setting: string | undefined): string[] | null;
export declare function v8FlagsForBudget(memoryMb: number): string[];
export declare function heapFlagsGiven(execArgv: readonly string[], nodeOptions: string | undefined): boolean;
