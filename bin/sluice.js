#!/usr/bin/env node
// The `sluice` command (`npx sluice lab --help`). It runs the built code in dist/; in a clone of
// the repository, run `npm run build` first, or `npm start` to run the lab from source.
let cli;
try {
  cli = await import('../dist/lab/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write(
    'sluice: dist/lab/cli.js is missing: run `npm run build` first (or `npm start` from source)\n',
  );
  process.exit(1);
}
await cli.run();
