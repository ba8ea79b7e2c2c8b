import type { Options } from 'tsup';
type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * tsup (8.5) prints esbuild's warnings and succeeds; a dropped side-effect import or an empty
 * `import.meta` in the CommonJS build then only shows up when another repository runs the package.
 * This plugin fails the build on any warning instead (tsup's own two `require` notices excepted).
 */
const failOnWarnings: Plugin = {
  name: 'fail-on-warnings',
  setup(build) {
    build.onEnd((result) => {
      const warnings = result.warnings.filter((w) => !/call(s)? to "require" will not be bundled/.test(w.text));
      if (warnings.length === 0) return;
      const lines = warnings.map((w) => `${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}${w.id ? ` [${w.id}]` : ''}`);
      throw new Error(`esbuild warnings are errors in this repository:\n  ${lines.join('\n  ')}`);
    });
  },
};

/** Spread into every package's tsup config: warnings fail the build. */
export const strictBuild: Pick<Options, 'esbuildPlugins'> = { esbuildPlugins: [failOnWarnings] };

/** The same plugin, for configs that have plugins of their own. */
export const failOnWarningsPlugin: Plugin = failOnWarnings;
