import { useRef, useState } from 'react';
import { useAuth } from '../auth/AuthContext.jsx';
import { SessionEndedError } from '../api/client.js';
import { Alert, BusyButton, ErrorMessage, LabelledTime, Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useRemoval } from '../hooks/useRemoval.js';
import { useResource } from '../hooks/useResource.js';

/** Longest title, in characters (docs/notes.md, "Limits"). */
export const TITLE_MAX = 200;
/** Longest body, in characters (docs/notes.md, "Limits"). */
export const BODY_MAX = 10000;

/**
 * The notes service's endpoints (docs/notes.md) on top of the app's API client.
 *
 * @param {ReturnType<import('../api/client.js').createApiClient>} api
 */
export function notesApi(api) {
  return {
    /** @returns {Promise<{notes: object[]}>} the caller's notes, newest first */
    list: () => api.get('/api/notes'),
    /** @returns {Promise<object>} the created note */
    create: (note) => api.post('/api/notes', note),
    /** @returns {Promise<null>} */
    remove: (id) => api.delete(`/api/notes/${encodeURIComponent(id)}`),
  };
}

/**
 * Count characters the way the server does (Unicode code points, not UTF-16 units).
 *
 * @param {string} text
 * @returns {number}
 */
export function charCount(text) {
  return [...String(text)].length;
}

/**
 * Check a note before sending it, with the server's own limits.
 *
 * @param {{title: string, body: string}} note
 * @returns {string|null} what is wrong, in words, or null when it may be sent
 */
export function validateNote({ title, body }) {
  if (!title || !title.trim()) return 'Give the note a title.';
  if (charCount(title) > TITLE_MAX) return `The title is too long: at most ${TITLE_MAX} characters.`;
  if (charCount(body || '') > BODY_MAX) return `The body is too long: at most ${BODY_MAX.toLocaleString('en')} characters.`;
  return null;
}

/**
 * Say in words why a notes request failed.
 *
 * @param {Error} error an ApiError (with `status`, `code`, `description`) or a network TypeError
 * @param {'save'|'delete'} action what the user tried
 * @returns {string}
 */
export function describeNoteError(error, action = 'save') {
  const verb = action === 'delete' ? 'deleted' : 'saved';
  if (error instanceof TypeError) return `The note was not ${verb}: the server could not be reached. Check your connection and try again.`;
  const status = error?.status;
  if (status === 400) return `The note was not ${verb}: ${error.description || 'the server did not accept it.'}`;
  if (status === 403) return `The note was not ${verb}: your account is not allowed to change notes.`;
  if (status === 404) return 'That note does not exist any more.';
  if (status === 413) return `The note was not ${verb}: it is too large.`;
  if (status === 429) return `The note was not ${verb}: too many requests. Please wait a moment and try again.`;
  if (status === 503) return `The note was not ${verb}: the notes service is unavailable right now. Please try again in a moment.`;
  if (status >= 500) return `The note was not ${verb}: the server had a problem. Please try again.`;
  return `The note was not ${verb}: ${error?.description || error?.message || 'something went wrong.'}`;
}

// The stylesheet styles `.field input`; the body field matches it.
const TEXTAREA_STYLE = {
  width: '100%',
  padding: '0.5rem 0.75rem',
  border: '1px solid var(--border)',
  borderRadius: '10px',
  background: 'var(--surface)',
  color: 'var(--text)',
  font: 'inherit',
  resize: 'vertical',
};

function NoteItem({ note, onDelete, busy }) {
  return (
    <li className="panel note" data-testid="note" data-note-id={note.id}>
      <div className="note-head" style={{ display: 'flex', alignItems: 'flex-start', justifyContent: 'space-between', gap: '1rem' }}>
        <h3 className="note-title break" style={{ margin: 0, minWidth: 0 }}>
          {note.title}
        </h3>
        <BusyButton className="button button-danger button-small" onClick={() => onDelete(note)} busy={busy}
          busyLabel="Deleting…" aria-label={`Delete note: ${note.title}`}>
          Delete
        </BusyButton>
      </div>
      {note.body && <p className="note-body break" style={{ whiteSpace: 'pre-wrap' }}>{note.body}</p>}
      <LabelledTime as="p" className="muted small" label="Added" value={note.created_at} />
    </li>
  );
}

/**
 * The list of notes, or the empty state.
 *
 * @param {{notes: object[], onDelete: (note: object) => void, deleting: number|null}} props
 */
export function NoteList({ notes, onDelete, deleting }) {
  if (notes.length === 0) {
    return (
      <p className="muted" data-testid="notes-empty">
        No notes yet. Add your first one above.
      </p>
    );
  }
  return (
    <ul className="note-list" aria-label="Your notes" style={{ listStyle: 'none', padding: 0, display: 'grid', gap: '0.75rem' }}>
      {notes.map((note) => (
        <NoteItem key={note.id} note={note} onDelete={onDelete} busy={deleting === note.id} />
      ))}
    </ul>
  );
}

/**
 * The form that adds a note: fields "Title" and "Body", button "Add note".
 *
 * @param {{onAdd: (note: {title: string, body: string}) => Promise<void>, busy: boolean}} props
 */
export function NoteForm({ onAdd, busy }) {
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [problem, setProblem] = useState(null);
  const titleRef = useRef(null);

  async function submit(event) {
    event.preventDefault();
    const note = { title: title.trim(), body };
    const wrong = validateNote(note);
    setProblem(wrong);
    if (wrong) {
      titleRef.current?.focus();
      return;
    }
    const saved = await onAdd(note);
    if (saved) {
      setTitle('');
      setBody('');
      titleRef.current?.focus();
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby="new-note-title">
      <h2 id="new-note-title">New note</h2>
      <div className="field">
        <label htmlFor="note-title">Title</label>
        <input
          id="note-title"
          ref={titleRef}
          type="text"
          value={title}
          onChange={(event) => setTitle(event.target.value)}
          maxLength={TITLE_MAX}
          autoComplete="off"
          required
          aria-invalid={problem ? 'true' : undefined}
          aria-describedby={problem ? 'note-problem' : undefined}
        />
      </div>
      <div className="field" style={{ marginTop: '0.75rem' }}>
        <label htmlFor="note-body">Body</label>
        <textarea
          id="note-body"
          value={body}
          onChange={(event) => setBody(event.target.value)}
          rows={4}
          maxLength={BODY_MAX}
          style={TEXTAREA_STYLE}
        />
        <span className="muted small">
          {charCount(body).toLocaleString('en')} / {BODY_MAX.toLocaleString('en')} characters
        </span>
      </div>
      {problem && (
        <div id="note-problem" style={{ marginTop: '0.75rem' }}>
          <Alert kind="error">{problem}</Alert>
        </div>
      )}
      <div className="actions" style={{ marginTop: '0.75rem' }}>
        <BusyButton type="submit" className="button button-primary" busy={busy} busyLabel="Adding…">
          Add note
        </BusyButton>
      </div>
    </form>
  );
}

/** `/notes`: the signed-in user's notes, kept by the notes service behind the gateway. */
export default function Notes() {
  const { api } = useAuth();
  useDocumentTitle('Notes');
  const notes = notesApi(api);
  const list = useResource(() => notes.list(), [api]);
  const [added, setAdded] = useState([]);
  const [adding, setAdding] = useState(false);
  const [message, setMessage] = useState(null);
  const removal = useRemoval(setMessage);

  const loaded = Array.isArray(list.data?.notes) ? list.data.notes : [];
  const known = new Set(loaded.map((note) => note.id));
  const shown = [...added.filter((note) => !known.has(note.id)), ...loaded].filter((note) => !removal.removed.has(note.id));

  function reload() {
    setAdded([]);
    removal.reset();
    list.reload();
  }

  async function add(note) {
    setAdding(true);
    setMessage(null);
    try {
      const created = await notes.create(note);
      setAdded((previous) => [created, ...previous]);
      setMessage({ kind: 'success', text: `Added “${created.title}”.` });
      return true;
    } catch (error) {
      if (!(error instanceof SessionEndedError)) setMessage({ kind: 'error', text: describeNoteError(error, 'save') });
      return false;
    } finally {
      setAdding(false);
    }
  }

  function remove(note) {
    return removal.remove(note.id, () => notes.remove(note.id), {
      done: `Deleted “${note.title}”.`,
      gone: 'That note had already been deleted.',
      failed: (error) => describeNoteError(error, 'delete'),
    });
  }

  return (
    <>
      <PageHead title="Notes" resource={list} onRefresh={reload} />
      <p className="muted">
        Your private notes, kept by the example <code>notes</code> service behind the gateway. Only you can see them.
      </p>
      {message && (
        <Alert kind={message.kind} onDismiss={() => setMessage(null)}>
          {message.text}
        </Alert>
      )}
      <section className="panel">
        <NoteForm onAdd={add} busy={adding} />
      </section>
      <section aria-labelledby="notes-title" aria-busy={list.loading}>
        <h2 id="notes-title">Your notes</h2>
        {list.loading && !list.data && <Loading label="Loading your notes…" />}
        {list.error && <ErrorMessage error={list.error} what="your notes" onRetry={reload} />}
        {list.data && !list.error && <NoteList notes={shown} onDelete={remove} deleting={removal.removing} />}
      </section>
    </>
  );
}
