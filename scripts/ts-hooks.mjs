// Node module hooks that let `npm run bench` and scripts/openapi.mjs import the repository's TypeScript directly, the same
// way ts-jest does for the tests: each file is transpiled on its own with TypeScript's
// `transpileModule` under the repository's tsconfig (decorator metadata included, which Nest's
// dependency injection needs and esbuild-based runners such as tsx cannot emit), `@app/<lib>`
// resolves to `libs/<lib>/src/index.ts`, and a relative `./x.js` resolves to `./x.ts`.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = new URL('../', import.meta.url);
const config = ts.readConfigFile(fileURLToPath(new URL('tsconfig.json', root)), ts.sys.readFile).config;
const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, fileURLToPath(root));
const compilerOptions = { ...options, sourceMap: false, inlineSourceMap: true, inlineSources: true, declaration: false };

export async function resolve(specifier, context, nextResolve) {
  const lib = /^@app\/([a-z-]+)$/.exec(specifier);
  if (lib) {
    const url = new URL(`libs/${lib[1]}/src/index.ts`, root);
    if (existsSync(url)) return { url: url.href, format: 'module', shortCircuit: true };
  }
  if (context.parentURL?.endsWith('.ts') && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const asTs = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(asTs)) return { url: asTs.href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { outputText } = ts.transpileModule(readFileSync(path, 'utf8'), {
    compilerOptions: { ...compilerOptions, module: ts.ModuleKind.ESNext },
    fileName: path,
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}

export const registerUrl = pathToFileURL(fileURLToPath(import.meta.url)).href;
