// Applies the theme chosen with the toggle before the page paints.
try {
  var t = localStorage.getItem('jokster.theme')
  if (t === 'light' || t === 'dark') document.documentElement.setAttribute('data-theme', t)
} catch (e) {}
