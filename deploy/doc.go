// Package deploy holds the settings files of docker-compose.yaml (*.env) and
// the tests that keep the deployment honest: docker-compose.yaml, the
// Dockerfile and the nginx templates are checked against the binary's real
// settings (config.Config) and against nginx itself (`nginx -t`). It has no
// code of its own.
package deploy
