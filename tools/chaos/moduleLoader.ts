import * as path from 'node:path';

/**
 * Starting a chaos module in another thread or process. Compiled (dist-tools), the module's .js
 * file is run as it is. Under ts-jest there is no .js file, so a small loader transpiles each
 * .ts file on require (types are checked by `tsc`, not here), as the lifecycle handler's child
 * process does in devkit/lifecycleServer.ts.
 */

export interface ModuleEntry {
  /** For `new Worker(script, { eval })` or `node -e script`; undefined: run `file` directly. */
  readonly script: string | undefined;
  readonly file: string;
}

const loaderSource = (file: string, typescript: string) => `
const fs = require('node:fs');
const ts = require(${JSON.stringify(typescript)});
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
require(${JSON.stringify(file)});
`;

/** The module `name` beside this one (e.g. 'graphThread'), ready to start. */
export function chaosModule(name: string): ModuleEntry {
  const extension = path.extname(__filename);
  const file = path.join(__dirname, `${name}${extension}`);
  if (extension !== '.ts') return { script: undefined, file };
  return { script: loaderSource(file, require.resolve('typescript')), file };
}
