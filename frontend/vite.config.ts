import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The page is served by FastAPI from `dist/` at `/`, on the same origin as the API; in
// development Vite serves it and forwards the API (SSE included) to a local backend.
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      "/v1": {
        target: "http://127.0.0.1:8000",
        changeOrigin: false,
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
