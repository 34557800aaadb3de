/** The `salip` executable. */
import { main } from './main.js';
import { runCli } from './run.js';

void runCli(main, process.argv.slice(2));
