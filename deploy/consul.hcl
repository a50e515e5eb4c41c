# Consul agent settings for docker-compose.yml: HTTPS health checks of Farol instances are
# verified against the Farol CA (never TLSSkipVerify).
enable_agent_tls_for_checks = true
tls {
  defaults {
    ca_file = "/data/certs/ca.pem"
  }
}
