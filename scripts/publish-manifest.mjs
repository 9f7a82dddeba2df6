// The extension publishing manifest (an ExtensionImage document) that registers one version of the
// handler package with the platform's extension publishing process. Its elements must come in this
// order (the publishing service rejects another one). MediaLink is the URL of the uploaded zip,
// known only after upload: pass --media-link to `npm run package`, or fill it in before submitting.
const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * @param {{ namespace: string, type: string, version: string, label: string, description: string,
 *   mediaLink?: string, isInternal?: boolean, eula: string, privacyUri: string, homepageUri: string,
 *   companyName: string, supportedOS?: string, regions?: string[] }} m
 * @returns {string}
 */
export function publishManifest(m) {
  if (!/^[A-Za-z0-9]+(\.[A-Za-z0-9]+)+$/.test(m.namespace)) throw new Error(`publisher namespace ${m.namespace}: dotted alphanumeric names`);
  if (!/^[A-Za-z0-9]+$/.test(m.type)) throw new Error(`extension type ${m.type}: alphanumeric`);
  if (!/^\d+\.\d+\.\d+(\.\d+)?$/.test(m.version)) throw new Error(`version ${m.version}: N.N.N[.N]`);
  const el = (name, value) => `  <${name}>${escape(value)}</${name}>`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<ExtensionImage xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">',
    '  <!-- Ordering of the elements matters. -->',
    el('ProviderNameSpace', m.namespace),
    el('Type', m.type),
    el('Version', m.version),
    el('Label', m.label),
    el('HostingResources', 'VmRole'),
    el('MediaLink', m.mediaLink ?? ''),
    el('Description', m.description),
    el('IsInternalExtension', m.isInternal === false ? 'false' : 'true'),
    el('Eula', m.eula),
    el('PrivacyUri', m.privacyUri),
    el('HomepageUri', m.homepageUri),
    el('IsJsonExtension', 'true'),
    el('CompanyName', m.companyName),
    el('SupportedOS', m.supportedOS ?? 'Linux'),
    ...(m.regions && m.regions.length > 0 ? [el('Regions', m.regions.join(';'))] : []),
    '</ExtensionImage>',
    '',
  ].join('\n');
}
