/** The CLI's own version, from package.json (bundled in by esbuild), shown by --version and sent in server/hello. */
import pkg from '../package.json';

export const CLI_VERSION: string = pkg.version;
