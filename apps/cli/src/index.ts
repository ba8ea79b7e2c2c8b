export { runCli, buildCli } from './cli';
export { DEFAULTS } from './defaults';
