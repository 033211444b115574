// The test page's script: the real @nethesis/phone-island widget, unmodified,
// mounted the way NethLink and nethvoice-cti embed it (the PhoneIsland
// component with a base64 data config). Every phone-island-* event it
// dispatches on window is recorded in window.__events for the test to read.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { PhoneIsland } from '@nethesis/phone-island';
import '@nethesis/phone-island/dist/index.css';

window.__events = [];
const seen = [
  'phone-island-socket-connected', 'phone-island-socket-authorized', 'phone-island-socket-disconnected',
  'phone-island-socket-reconnected', 'phone-island-server-disconnected', 'phone-island-socket-disconnected-popup-open',
  'phone-island-user-informations-update', 'phone-island-main-presence', 'phone-island-extensions-update',
  'phone-island-conversations', 'phone-island-call-started', 'phone-island-call-answered', 'phone-island-queue-update',
  'phone-island-parking-update', 'phone-island-default-device-updated', 'phone-island-alert-removed',
];
for (const name of seen) {
  window.addEventListener(name, (e) => {
    let detail;
    try { detail = JSON.parse(JSON.stringify(e.detail ?? null)); } catch { detail = null; }
    window.__events.push({ name, detail, at: Date.now() });
  });
}
createRoot(document.getElementById('root')).render(
  <PhoneIsland dataConfig={window.PHONE_ISLAND_CONFIG} showAlways={false} uaType="desktop" />,
);
