// Vite configuration of the web app (web/ is the Vite root).
//
// Owns: the Solid compiler, the build output (web/dist, which the relay serves; a CSP-friendly
// build: no inline scripts or styles), and the dev server's proxy of RPC paths to a local relay
// so `npm run dev` talks to the relay from the page's own origin.
import { fileURLToPath } from "node:url";
import solid from "vite-plugin-solid";
import { defineConfig } from "vite";

/**
 * RPC paths are `/<package>.<Service>/<Method>`; every relay service lives in
 * `securecomm.relay.v1` (proto/securecomm/relay/v1), plus gRPC health and reflection.
 */
const RPC_PATH_PATTERN = "^/(securecomm\\.|grpc\\.)";

/** The relay `npm run dev` proxies to (web/dev.ts starts one here). */
const DEV_RELAY_URL = process.env.SECURECOMM_DEV_RELAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [solid()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Everything is served same-origin under a strict CSP: never inline assets as data: URLs
    // in scripts or styles, and keep the module-preload polyfill out (it is inline-free anyway).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // Neither is something `npm start` should print to a newcomer: the Solid compiler is slow
    // on a loaded 2-core machine, and a dynamic import inside client/ that another module also
    // imports statically only means one chunk instead of two.
    rolldownOptions: { checks: { bundlerTimings: false, ineffectiveDynamicImport: false } },
  },
  server: {
    proxy: {
      [RPC_PATH_PATTERN]: { target: DEV_RELAY_URL, changeOrigin: false },
    },
  },
});
