// Vite build of the operator UI. `npm run build` writes dist/, which
// codis-dashboard serves at / (see --assets-dir). `npm run dev` serves the
// sources with hot reload and forwards the API to a running dashboard:
//   CODIS_DASHBOARD=http://127.0.0.1:18080 npm run dev
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

const dashboard = process.env.CODIS_DASHBOARD ?? 'http://127.0.0.1:18080';

export default defineConfig({
  // Relative asset URLs: the bundle works at / and behind a reverse proxy
  // under a sub-path alike (the API is called with relative URLs too).
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/api': dashboard,
      '/topom': dashboard,
      '/metrics': dashboard,
    },
  },
});
