// Bundle the card (Lit included) into the single ES module the integration serves.
// `npm ci && npm run build` reproduces the committed file exactly (pinned lock file);
// `node build.mjs --check` fails when the committed bundle is not what the source builds.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../custom_components/vigil/frontend/vigil-card.js", import.meta.url));
const check = process.argv.includes("--check");
const result = await build({
  entryPoints: [fileURLToPath(new URL("./src/vigil-card.js", import.meta.url))],
  bundle: true,
  format: "esm",
  target: "es2021",
  minify: true,
  legalComments: "eof",
  banner: { js: "// Vigil dashboard card. Built from frontend/src by frontend/build.mjs; do not edit." },
  outfile: out,
  write: !check,
  logLevel: check ? "warning" : "info",
});
if (check) {
  const built = result.outputFiles[0].text;
  if (built !== readFileSync(out, "utf8")) {
    console.error(`${out} is stale: run (cd frontend && npm run build) and commit it`);
    process.exit(1);
  }
  console.log("card bundle is up to date");
}
