<?php
// The seed's .htaccess for PHP's built-in server: what Apache's
//   RewriteRule ^kzr/call_recording_(.+)\.(.+)$  kzr/index.php?recording=$1.$2 [QSA,L]
// does, then the seed's kzr/index.php exactly as written. Each request line is noted in $KZR_LOG.
$uri = $_SERVER["REQUEST_URI"];
file_put_contents(getenv("KZR_LOG"), $_SERVER["REQUEST_METHOD"] . " " . $uri . "\n", FILE_APPEND);
if (preg_match('#^/kzr/call_recording_(.+)\.(.+)$#', parse_url($uri, PHP_URL_PATH), $m)) {
    $_GET["recording"] = $_REQUEST["recording"] = $m[1] . "." . $m[2];
    require __DIR__ . "/kzr/index.php";
    return true;
}
http_response_code(404);
return true;
