// The error of a bad extension setting: names the setting's JSON path (shown in the extension status,
// never a crash). Its own module so every settings parser can throw it without importing the others.
import { InputError } from '../base/errors.js';

export class SettingsError extends InputError {
  /** JSON path of the bad setting, e.g. `publicSettings.intervalMinutes`. */
  readonly setting: string;
  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super('E_SETTINGS', `setting ${setting}: ${message}`, options);
    this.setting = setting;
  }
}
