import { describe, it, expect } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { BusyButton, LabelledTime, Time } from './ui.jsx';
import { ActionMessage, FormPanel, RolesCell, TimeCell } from '../admin/components.jsx';

const html = (element) => renderToStaticMarkup(element);

describe('BusyButton', () => {
  it('is a type="button" button with its label while idle', () => {
    expect(html(<BusyButton busy={false} busyLabel="Saving…" className="button" aria-label="Save roles">Save</BusyButton>)).toBe(
      '<button type="button" class="button" aria-label="Save roles">Save</button>',
    );
  });

  it('says what it is doing and cannot be pressed while busy, whatever `disabled` says', () => {
    const busy = html(<BusyButton busy busyLabel="Saving…" disabled={false}>Save</BusyButton>);
    expect(busy).toBe('<button type="button" disabled="">Saving…</button>');
  });

  it('is disabled when told so while idle, and keeps a given type', () => {
    expect(html(<BusyButton type="submit" busy={false} busyLabel="Adding…" disabled>Add note</BusyButton>)).toBe(
      '<button type="submit" disabled="">Add note</button>',
    );
  });
});

describe('Time and LabelledTime', () => {
  it('shows `empty` for a value that is not a time', () => {
    expect(html(<Time value={null} empty="never" />)).toBe('<span class="muted">never</span>');
  });

  it('puts the machine-readable time in dateTime', () => {
    expect(html(<Time value="2026-12-03T08:00:00Z" />)).toMatch(/^<time dateTime="2026-12-03T08:00:00.000Z" title="[^"]+">/);
  });

  it('labels a time, in the element asked for, and renders nothing without a time', () => {
    expect(html(<LabelledTime as="p" className="muted small" label="Added" value="2026-12-03T08:00:00Z" />)).toMatch(
      /^<p class="muted small">Added <time dateTime=/,
    );
    expect(html(<LabelledTime label="Last active" value="" />)).toBe('');
  });
});

describe('admin table cells and FormPanel', () => {
  it('lists roles, or says none', () => {
    expect(html(<table><tbody><tr><RolesCell roles={['admin', 'user']} /><RolesCell roles={[]} /></tr></tbody></table>)).toContain(
      '<td data-label="Roles">admin, user</td><td data-label="Roles"><span class="muted">none</span></td>',
    );
  });

  it('labels a time cell for narrow screens', () => {
    expect(html(<table><tbody><tr><TimeCell label="Last token" value={null} empty="never" /></tr></tbody></table>)).toContain(
      '<td data-label="Last token"><span class="muted">never</span></td>',
    );
  });

  it('titles its section, disables submit until ready and shows the outcome', () => {
    const action = { busy: false, message: { kind: 'success', text: 'Done.' }, setMessage: () => {} };
    const panel = html(
      <FormPanel id="t" title="Allow an email" action={action} task={async () => null} submitLabel="Allow" busyLabel="Allowing…" ready={false}>
        <input id="f" />
      </FormPanel>,
    );
    expect(panel).toMatch(/^<section class="panel" aria-labelledby="t"><h2 id="t">Allow an email<\/h2><form noValidate=""><input id="f"\/>/);
    expect(panel).toContain('<button type="submit" class="button button-primary" disabled="">Allow</button></form>');
    expect(panel).toContain('Done.');
  });
});

describe('ActionMessage', () => {
  it('renders nothing without a message', () => {
    expect(html(<ActionMessage message={null} onDismiss={() => {}} />)).toBe('');
  });

  it('shows the text, the error code, the further buttons and then Dismiss', () => {
    const out = html(
      <ActionMessage
        message={{ kind: 'error', text: 'Could not save.', code: 'forbidden' }}
        onDismiss={() => {}}
        actions={<button type="button">Refresh my token now</button>}
      />,
    );
    expect(out).toMatch(/^<div class="alert alert-error" role="alert">/);
    expect(out).toContain('Could not save.<span class="error-code"> (forbidden)</span>');
    expect(out).toMatch(/<div class="alert-actions"><button type="button">Refresh my token now<\/button><button [^>]*>Dismiss<\/button><\/div>/);
  });
});
