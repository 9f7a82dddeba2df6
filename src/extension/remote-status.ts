// The extension's verifier mode in the portal status: the remote verdict and the token's jti beside
// the local verdict. A verifier that cannot be reached (or refuses) makes the status `warning` or
// `error` per statusOnFailure, with the reason; the local verdict is still shown.
import { cut, sub, type StatusFile, type ExtStatusValue } from './status.js';

/** What the worker knows about the remote verifier after a run. */
export interface RemoteLike {
  readonly endpoint: string;
  readonly verdict?: 'pass' | 'fail';
  readonly jti?: string;
  readonly fresh?: boolean;
  readonly failed?: readonly string[];
  /** Set when the verifier could not be asked or refused the request. */
  readonly error?: string;
}

const host = (endpoint: string): string => {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint.slice(0, 80);
  }
};

/** Adds the remote verdict to a status file made from the local outcome. */
export function withRemote(file: StatusFile, remote: RemoteLike, statusOnFailure: 'error' | 'warning'): StatusFile {
  const entry = file[0];
  const local = entry.status;
  const where = host(remote.endpoint);
  let status: ExtStatusValue;
  let headline: string;
  let subStatus: ExtStatusValue;
  let detail: string;
  if (remote.error !== undefined) {
    status = statusOnFailure;
    subStatus = statusOnFailure;
    headline = `REMOTE VERIFIER UNAVAILABLE (${where})`;
    detail = `the remote verifier ${where} gave no verdict: ${remote.error}`;
  } else {
    const pass = remote.verdict === 'pass';
    status = pass ? local.status : local.status === 'success' ? statusOnFailure : local.status;
    subStatus = pass ? 'success' : statusOnFailure;
    headline = `REMOTE ${pass ? 'PASS' : 'FAIL'} (${where}${remote.jti ? `, token jti ${remote.jti}` : ''}${pass ? (remote.fresh ? ', fresh' : ', not fresh') : ''})`;
    detail = `${headline}${remote.failed?.length ? `; failed: ${remote.failed.join(', ')}` : ''}`;
  }
  const message = cut(`${headline} | local: ${local.formattedMessage.message}`, 1024);
  return [
    {
      ...entry,
      status: {
        ...local,
        status,
        code: status === 'success' ? local.code : local.code || 1,
        formattedMessage: { lang: 'en-US', message },
        substatus: [sub('remote verifier', subStatus, cut(detail, 4096)), ...(local.substatus ?? [])],
      },
    },
  ];
}
