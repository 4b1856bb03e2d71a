import { Link } from 'react-router-dom';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';

export default function NotFound() {
  useDocumentTitle('Page not found');
  return (
    <section className="panel narrow center" aria-labelledby="notfound-title">
      <h1 id="notfound-title">Page not found</h1>
      <p>There is nothing at this address.</p>
      <Link className="button button-primary" to="/">
        Go to the home page
      </Link>
    </section>
  );
}
