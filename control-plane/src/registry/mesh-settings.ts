/**
 * The control plane's mesh-wide settings as the one "mesh/settings"
 * resource every agent holds. They come from the control plane's flags, so
 * they are fixed for the life of the process; the version is derived from
 * the content, so a restart with other flags gives agents a new version and
 * the same flags the same one (an agent that holds it is sent nothing).
 */
import { DEFAULT_ACCESS, type DefaultAccess } from '@weft/shared';

export interface MeshSettingsEntry {
  readonly version: string;
  readonly defaultAccess: DefaultAccess;
}

export function meshSettingsEntry(settings: { defaultAccess?: DefaultAccess } = {}): MeshSettingsEntry {
  const defaultAccess = settings.defaultAccess ?? DEFAULT_ACCESS;
  return Object.freeze({ version: `default-access=${defaultAccess}`, defaultAccess });
}

/** What a discovery stream needs to serve "mesh/settings". */
export interface MeshSettingsSource {
  entry(): MeshSettingsEntry;
}
