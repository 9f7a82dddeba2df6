// Where the sinks keep their state under <stateDir>/sinks (the extension's state/sinks), spelled
// once: the sinks write these files, `cvm-attest status` reads them.
import { join } from 'node:path';

/** Each sink's spool folder under `<sinksDir>/spool/`. */
export const SPOOL_FOLDERS = { azureMonitor: 'azure-monitor', syslog: 'syslog' } as const;
/** Azure Monitor's own queue for alerts (records cannot evict them). */
export const AZURE_MONITOR_ALERT_SPOOL = 'azure-monitor-alerts';
/** Each sink's last delivery state, rewritten after every delivery. */
export const SINKS_STATUS_FILE = 'status.json';
/** The alert rules' drift state. */
export const ALERT_STATE_FILE = 'alerts-state.json';

export function spoolDir(sinksDir: string, folder: string): string {
  return join(sinksDir, 'spool', folder);
}
