/**
 * A labelled input in the forms' `field` layout: the label names the input
 * (`htmlFor`/`id`), `onChange` gets the new value, every other prop (type,
 * autoComplete, maxLength, required...) goes to the `<input>`, and
 * `children` (a hint, a "show what I type" toggle) follow it.
 */
export function TextField({ id, label, onChange, children, className = 'field', ...input }) {
  return (
    <div className={className}>
      <label htmlFor={id}>{label}</label>
      <input id={id} onChange={(event) => onChange(event.target.value)} {...input} />
      {children}
    </div>
  );
}

/**
 * A required email address field without spell checking, at most 254
 * characters (RFC 5321 §4.5.3.1's path limit); any prop overrides these.
 */
export function EmailField(props) {
  return <TextField type="email" spellCheck={false} maxLength={254} required {...props} />;
}
