import { parseAddressAllowance, ValidationError } from '@weft/shared';

/**
 * An optional-value flag that allows addresses beyond this host
 * (`weft agent --allow-remote-registrations`, `weft control-plane
 * --allow-remote-instances`): absent = none, alone = any address, with a
 * value = only those comma-separated addresses and CIDR blocks (checked here,
 * so a typo is an error naming the flag and the entry).
 */
export function addressAllowanceFlag(value: string | true | undefined, flag: string): 'any' | string[] | undefined {
  if (value === undefined) return undefined;
  if (value === true) return 'any';
  const list = value.split(',').map((s) => s.trim());
  if (list.some((s) => s === '')) throw new ValidationError(flag, 'expected addresses or CIDR blocks separated by commas');
  parseAddressAllowance(list, flag);
  return list;
}
