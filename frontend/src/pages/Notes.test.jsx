import { describe, it, expect, vi } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { ApiError } from '../api/client.js';
import { BODY_MAX, NoteForm, NoteList, TITLE_MAX, charCount, describeNoteError, notesApi, validateNote } from './Notes.jsx';

describe('validateNote', () => {
  it('accepts a title alone and the limits themselves', () => {
    expect(validateNote({ title: 'Groceries', body: '' })).toBeNull();
    expect(validateNote({ title: 't'.repeat(TITLE_MAX), body: 'b'.repeat(BODY_MAX) })).toBeNull();
  });

  it.each([
    [{ title: '', body: '' }, /title/],
    [{ title: '   ', body: 'x' }, /title/],
    [{ title: 't'.repeat(TITLE_MAX + 1), body: '' }, /title is too long: at most 200/],
    [{ title: 'ok', body: 'b'.repeat(BODY_MAX + 1) }, /body is too long: at most 10,000/],
  ])('refuses %j in words', (note, words) => {
    expect(validateNote(note)).toMatch(words);
  });

  it('counts characters like the server (an emoji is one)', () => {
    expect(charCount('😀😀')).toBe(2);
    expect(validateNote({ title: '😀'.repeat(TITLE_MAX), body: '' })).toBeNull();
  });
});

describe('describeNoteError', () => {
  it.each([
    [new TypeError('Failed to fetch'), /could not be reached/],
    [new ApiError(400, 'invalid_request', 'title: String should have at most 200 characters'), /not saved: title: String/],
    [new ApiError(403, 'insufficient_scope', ''), /not allowed/],
    [new ApiError(413, 'request_too_large', ''), /too large/],
    [new ApiError(503, 'service_unavailable', ''), /unavailable right now/],
    [new ApiError(500, 'server_error', ''), /server had a problem/],
  ])('explains %s', (error, words) => {
    expect(describeNoteError(error)).toMatch(words);
  });

  it('says deleted for a failed delete', () => {
    expect(describeNoteError(new ApiError(503, 'service_unavailable'), 'delete')).toMatch(/^The note was not deleted/);
  });
});

describe('notesApi', () => {
  it('calls the notes endpoints of the contract', async () => {
    const api = { get: vi.fn(async () => ({ notes: [] })), post: vi.fn(async () => ({ id: 1 })), delete: vi.fn(async () => null) };
    const notes = notesApi(api);
    await notes.list();
    await notes.create({ title: 'a', body: '' });
    await notes.remove(7);
    expect(api.get).toHaveBeenCalledWith('/api/notes');
    expect(api.post).toHaveBeenCalledWith('/api/notes', { title: 'a', body: '' });
    expect(api.delete).toHaveBeenCalledWith('/api/notes/7');
  });
});

describe('NoteList', () => {
  it('shows the empty state when there is no note', () => {
    const html = renderToStaticMarkup(<NoteList notes={[]} onDelete={() => {}} deleting={null} />);
    expect(html).toContain('No notes yet');
  });

  it('lists notes with a labelled delete button each, as text (never HTML)', () => {
    const notes = [
      { id: 2, title: '<b>bold</b>', body: 'line 1\nline 2', created_at: '2026-12-03T08:00:00Z', updated_at: '2026-12-03T08:00:00Z' },
      { id: 1, title: 'older', body: '', created_at: '2026-12-02T08:00:00Z', updated_at: '2026-12-02T08:00:00Z' },
    ];
    const html = renderToStaticMarkup(<NoteList notes={notes} onDelete={() => {}} deleting={1} />);
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;');
    expect(html).toContain('aria-label="Delete note: older"');
    expect(html).toContain('Deleting…');
    expect(html.indexOf('bold')).toBeLessThan(html.indexOf('older'));
  });
});

describe('NoteForm', () => {
  it('has fields labelled Title and Body and an "Add note" button', () => {
    const html = renderToStaticMarkup(<NoteForm onAdd={async () => true} busy={false} />);
    expect(html).toMatch(/<label for="note-title">Title<\/label>/);
    expect(html).toMatch(/<label for="note-body">Body<\/label>/);
    expect(html).toMatch(/<button type="submit"[^>]*>Add note<\/button>/);
    expect(html).toContain(`maxLength="${TITLE_MAX}"`);
  });
});
