#!/usr/bin/env node
// The `tributary` command. Topologies are TypeScript modules, so tsx's loader is registered first
// and `tributary run topologies/mine.ts` can import them (as ES modules, see typescript-hooks.js).
// The CLI itself runs from src/ in a checkout of the repository, and from the compiled dist/ when
// installed from the package.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./typescript-hooks.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href);
