/**
 * The `weft` command. Thin: every subcommand parses its flags and calls the
 * packages (control plane, agent, admin API, registry gRPC API).
 */
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import { agentCommand } from './commands/agent.js';
import { applyCommand } from './commands/apply.js';
import { caCommand } from './commands/ca.js';
import { controlPlaneCommand } from './commands/control-plane.js';
import { deleteCommand } from './commands/delete.js';
import { demoCommand } from './commands/demo.js';
import { explainCommand } from './commands/explain.js';
import { getCommand } from './commands/get.js';
import { historyCommand } from './commands/history.js';
import { registerCommands } from './commands/register.js';
import { rollbackCommand } from './commands/rollback.js';
import { servicesCommand } from './commands/services.js';
import { statCommand } from './commands/stat.js';
import { statusCommand } from './commands/status.js';
import { tokenCommand } from './commands/token.js';
import { topCommand } from './commands/top.js';
import { upstreamCommand } from './commands/upstream.js';
import { setAuthSettings } from './control-plane-auth.js';

const program = new Command('weft')
  .description('Weft: a service mesh for plain hosts (one control plane, one agent per host)')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .option('--token <token>', 'operator or read token for the control plane (default: $WEFT_TOKEN, else the local bootstrap token)')
  .option('--token-file <file>', 'read the token from this file (keeps it out of the process list and shell history)')
  .option('--control-plane-data-dir <dir>', "the control plane's data dir when it runs on this host (bootstrap token, CA bundle)")
  .option('--ca-file <file>', 'trust these mesh CA roots (PEM) instead of pinning the root named in the token (default: $WEFT_CA_FILE)')
  .option('--insecure', 'INSECURE, local experiments only: talk plaintext to a control plane started with --insecure')
  .exitOverride()
  .hook('preAction', (_root, action) => {
    // `weft agent --insecure` and `weft control-plane --insecure` are the programs' own flags; the rest use them for their calls.
    const o = program.opts<{ token?: string; tokenFile?: string; controlPlaneDataDir?: string; caFile?: string; insecure?: boolean }>();
    const own = action.opts<{ insecure?: boolean }>();
    setAuthSettings({
      token: o.token,
      tokenFile: o.tokenFile,
      controlPlaneDataDir: o.controlPlaneDataDir,
      caFile: o.caFile,
      insecure: o.insecure === true || own.insecure === true,
    });
  });

controlPlaneCommand(program);
agentCommand(program);
registerCommands(program);
servicesCommand(program);
statusCommand(program);
statCommand(program);
topCommand(program);
applyCommand(program);
getCommand(program);
deleteCommand(program);
historyCommand(program);
rollbackCommand(program);
explainCommand(program);
upstreamCommand(program);
demoCommand(program);
tokenCommand(program);
caCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError) {
    console.error(`weft: ${err.message}`);
    process.exit(err.exitCode);
  }
  console.error(`weft: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
