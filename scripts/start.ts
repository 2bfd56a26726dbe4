// `npm start -- [relay options]`: build the web app into web/dist, then run the relay in this
// same process (so SIGTERM/SIGINT sent to npm, which execs us, reach the relay's handlers).
//
// Owns: deciding whether to build first. `--help`/`-h` only prints the relay's options, so it
// never builds; SECURECOMM_SKIP_WEB_BUILD=1 skips the build too (tests that start the relay
// through npm, or an operator serving another --static-dir). Does not own: the relay (relay/main.ts).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** True when `npm start` must build the web app before starting the relay. */
export function needsWebBuild(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (args.includes("--help") || args.includes("-h")) return false;
  return env.SECURECOMM_SKIP_WEB_BUILD !== "1";
}

if (needsWebBuild(process.argv.slice(2), process.env)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const vite = fileURLToPath(new URL("../node_modules/vite/bin/vite.js", import.meta.url));
  const built = spawnSync(process.execPath, [vite, "build", "web", "--logLevel", "warn"], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) {
    process.stderr.write("securecomm: building the web app failed; see above\n");
    process.exit(1);
  }
}
await import("../relay/main.js");
