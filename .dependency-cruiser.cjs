/**
 * Import rules checked in CI (`pnpm deps:check`): no circular imports, and packages depend downward only.
 * `pnpm deps:graph` draws the package graph (README's architecture section comes from it).
 */

/**
 * The layers of packages/*, lowest first. A package may import packages of lower layers only (not its own
 * layer's), and no package imports an app (apps/cli on top may import anything, apps/report anything but the CLI). Tests, benches and scripts may reach higher (their devDependencies do).
 */
const LAYERS = [
  ['onednn'], //                      the optional native kernels (a Node-API addon; imports nothing)
  ['backend'], //                     tfjs backends, seeded randomness, errors
  ['nn', 'data'], //                  layers, optimiser, checkpoints, training skeleton | datasets, batching
  ['unet', 'vae', 'ddpm'], //         the models and the diffusion mathematics
  ['ddim'], //                        the DDIM scheduler builds on the DDPM one
  ['eval', 'pipeline'], //            metrics and baselines | folders → samples
];

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const notProduction = '(\\.test\\.ts$|/test/|/bench/|/scripts/|\\.config\\.ts$)';

const layering = [...layerOf].map(([name, layer]) => {
  const allowed = [...layerOf].filter(([, l]) => l < layer).map(([n]) => n);
  return {
    name: `layering-${name}`,
    comment: `@ldm/${name} (layer ${layer}) may import only ${allowed.length ? allowed.map((n) => `@ldm/${n}`).join(', ') : 'no other package'}`,
    severity: 'error',
    from: { path: `^packages/${name}/`, pathNot: notProduction },
    to: { path: '^packages/([^/]+)/', pathNot: [`^packages/(${[name, ...allowed].join('|')})/`] },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle of imports: split the shared part into its own file.',
      severity: 'error',
      // TODO(bad-input): remove once CLI cycles are gone (the commands/* ↔ jobs/* cycles are being fixed there).
      from: { pathNot: '^apps/cli/src/' },
      to: { circular: true },
    },
    ...layering,
    {
      name: 'report-below-cli',
      comment: 'The report app (@ldm/report) is a library of the CLI: it never imports the CLI.',
      severity: 'error',
      from: { path: '^apps/report/' },
      to: { path: '^apps/cli/' },
    },
    {
      name: 'packages-not-to-apps',
      comment: 'Libraries never import an app.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|coverage|runs)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@ldm/source', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: {
      dot: { collapsePattern: '^(packages|apps)/[^/]+' },
      archi: { collapsePattern: '^(packages|apps)/[^/]+' },
    },
  },
};
