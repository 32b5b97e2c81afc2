// `node --import ./bench/lib/register.mjs file.ts` runs a TypeScript file of this repository.
import { register } from 'node:module';

register('../../scripts/ts-hooks.mjs', import.meta.url);
