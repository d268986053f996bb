// Starts Swagger UI on /api-docs. A separate file, not an inline <script>, so the page runs
// under a Content-Security-Policy with script-src 'self' and no 'unsafe-inline'.
"use strict";
(function () {
  var here = document.currentScript.src;
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: new URL("../openapi.json", here).href,
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
      // No online validator badge: the service works without internet access.
      validatorUrl: null,
    });
  });
})();
