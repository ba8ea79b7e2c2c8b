// Writes every ```ts block of the packages' READMEs that imports an @ldm package to OUT/<package>-<n>.mts,
// so the consumer test type-checks and runs each one, as written, against the installed packages.
//   node scripts/readme-examples.mjs ROOT OUT
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [root, out] = process.argv.slice(2);
if (!root || !out) throw new Error('usage: node scripts/readme-examples.mjs ROOT OUT');
mkdirSync(out, { recursive: true });
let written = 0;
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const readme = join(root, group, name, 'README.md');
    if (!existsSync(readme)) continue;
    const blocks = [...readFileSync(readme, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    blocks
      .filter((code) => /from '@ldm\//.test(code))
      .forEach((code, i) => {
        writeFileSync(join(out, `${name}-${i + 1}.mts`), `// ${group}/${name}/README.md, example ${i + 1}\n${code}export {};\n`);
        written++;
      });
  }
}
console.log(`${written} README examples in ${out}`);
