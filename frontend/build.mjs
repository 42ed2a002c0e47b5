// Bundle the card (Lit included) into the single ES module the integration serves.
// `npm ci && npm run build` reproduces the committed file exactly (pinned lock file).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../custom_components/vigil/frontend/vigil-card.js", import.meta.url));
await build({
  entryPoints: [fileURLToPath(new URL("./src/vigil-card.js", import.meta.url))],
  bundle: true,
  format: "esm",
  target: "es2021",
  minify: true,
  legalComments: "eof",
  banner: { js: "// Vigil dashboard card. Built from frontend/src by frontend/build.mjs; do not edit." },
  outfile: out,
  logLevel: "info",
});
