import { defineConfig } from "vite";

// Built into the server crate's OUT_DIR by its build script (BILLOW_WEB_OUT), embedded in the
// binary: relative asset URLs, no source maps, no external requests.
export default defineConfig({
  base: "/",
  build: {
    outDir: process.env.BILLOW_WEB_OUT ?? "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    assetsInlineLimit: 0,
  },
});
