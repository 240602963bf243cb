import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The server serves web/dist at "/"; `npm run dev` proxies the API to a local `ecgscope serve`.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
