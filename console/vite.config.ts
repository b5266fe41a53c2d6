import { defineConfig } from 'vite';

// The console is plain static files served by the API process (services/api/console.ts): no inline script (the CSP
// forbids it), no asset from another host, Preact through esbuild's automatic JSX runtime (no plugin needed).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The module-preload polyfill is injected inline; every target browser supports modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  logLevel: 'warn',
});
