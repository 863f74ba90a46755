/**
 * The `weft` command. Thin: every subcommand parses its flags and calls the
 * packages (control plane, agent, admin API, registry gRPC API).
 */
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import { agentCommand } from './commands/agent.js';
import { applyCommand } from './commands/apply.js';
import { controlPlaneCommand } from './commands/control-plane.js';
import { deleteCommand } from './commands/delete.js';
import { demoCommand } from './commands/demo.js';
import { explainCommand } from './commands/explain.js';
import { getCommand } from './commands/get.js';
import { historyCommand } from './commands/history.js';
import { registerCommands } from './commands/register.js';
import { rollbackCommand } from './commands/rollback.js';
import { servicesCommand } from './commands/services.js';
import { statusCommand } from './commands/status.js';
import { upstreamCommand } from './commands/upstream.js';

const program = new Command('weft')
  .description('Weft: a service mesh for plain hosts (one control plane, one agent per host)')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

controlPlaneCommand(program);
agentCommand(program);
registerCommands(program);
servicesCommand(program);
statusCommand(program);
applyCommand(program);
getCommand(program);
deleteCommand(program);
historyCommand(program);
rollbackCommand(program);
explainCommand(program);
upstreamCommand(program);
demoCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError) {
    console.error(`weft: ${err.message}`);
    process.exit(err.exitCode);
  }
  console.error(`weft: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
