/**
 * Mandatory options that are checked after unknown ones.
 *
 * Commander checks `.requiredOption()` before it looks for unknown options, so
 * a typo (`weft register --nme orders`) was reported as "required option
 * '--name' not specified". An option added here is checked in the command's
 * preAction hook instead, which commander runs after refusing unknown options:
 * the typo gets "unknown option '--nme'" (with commander's suggestion).
 */
import { type Command, Option } from 'commander';

export function requiredOption(command: Command, flags: string, description: string): Command {
  const option = new Option(flags, `${description} (required)`);
  command.addOption(option);
  command.hook('preAction', (cmd, action) => {
    if (action !== cmd) return;
    if (cmd.getOptionValue(option.attributeName()) === undefined) {
      cmd.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
    }
  });
  return command;
}
