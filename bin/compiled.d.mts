/** True when dist/ holds a build at least as new as every source file of the checkout at root (this one by default; bin/compiled.mjs). */
export function compiledIsFresh(root?: string): boolean;
