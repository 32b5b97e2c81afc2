import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The dashboard is built into dist/dashboard, which the gateway serves at `/`. Asset names carry
 * their content hash (cached for a year by the gateway); index.html is never cached.
 * `npm run dev:dashboard` serves it with hot reload and proxies the API to a gateway on :3000.
 */
export default defineConfig({
  root: here,
  base: '/',
  publicDir: 'public',
  // The client from its sources, as the apps compile it (its package's dist/ is built only to publish it).
  resolve: { alias: { '@framewire/client': fileURLToPath(new URL('../../packages/client/src/index.ts', import.meta.url)) } },
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/v1': { target: process.env['FRAMEWIRE_URL'] ?? 'http://127.0.0.1:3000', changeOrigin: false },
    },
  },
});
