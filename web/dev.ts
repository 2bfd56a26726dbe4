// `npm run dev`: a local relay plus Vite's dev server with hot reload, so the app under
// development talks to a real relay from the page's own origin (Vite proxies RPC paths).
//
// Owns: starting both, printing where to open the app, stopping both on Ctrl-C. The relay
// keeps its data in ./data like `npm start`; pass relay flags after `--`.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

/** Port of the development relay (the Vite proxy's target, web/vite.config.ts). */
const DEV_RELAY_PORT = 8080;
/** Port Vite serves the app on. */
const DEV_APP_PORT = 5173;

const root = fileURLToPath(new URL("..", import.meta.url));
const relay = spawn(
  process.execPath,
  ["--import", "tsx", "relay/main.ts", "--host", "127.0.0.1", "--port", String(DEV_RELAY_PORT), ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit" },
);
relay.on("exit", (code) => {
  process.stderr.write(`relay exited (${code ?? "signal"}); stopping the dev server\n`);
  process.exit(code ?? 1);
});

const server = await createServer({
  configFile: fileURLToPath(new URL("vite.config.ts", import.meta.url)),
  server: { port: DEV_APP_PORT, strictPort: true },
});
await server.listen();
server.printUrls();

const stop = (): void => {
  relay.kill("SIGTERM");
  void server.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
