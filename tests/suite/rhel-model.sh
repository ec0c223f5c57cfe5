#!/bin/sh
# The RHEL-shaped guest: turns a Debian root (debootstrap with dnf, createrepo-c, firewalld, rpm,
# nginx and postgresql) into a model of a Rocky Linux 9 server, as far as mm-install can tell:
#
# - os-release and redhat-release of Rocky Linux 9.4, so `detect-os` says RHEL family and dnf;
# - an rpm database that has `nginx`, `postgresql` and `postgresql-server` installed, from a local
#   dnf repository (/srv/repo, built with createrepo_c) that dnf installs them from;
# - nginx laid out like RHEL's: no sites-available/sites-enabled, sites in conf.d/*.conf, the
#   default server in nginx.conf itself, workers running as the `nginx` user;
# - PostgreSQL like RHEL's postgresql-server after `postgresql-setup --initdb`: one cluster in
#   /var/lib/pgsql/data run by a single `postgresql.service` (Type=notify), and pg_hba.conf with
#   RHEL's defaults: `peer` for local sockets, `ident` for TCP from 127.0.0.1 and ::1, so a
#   password login over TCP fails until someone adds a password rule (mattermost-facts.md §10);
# - firewalld enabled, with its default zone (ssh, dhcpv6-client and cockpit open; http closed).
#
# Not modelled: SELinux (no policy, `getenforce` is missing, so mm-install takes the
# not-enforcing path), Red Hat's own package builds and versions (the programs are Debian's),
# the dnf module streams (the packages are installed already), subscription-manager.
# Runs inside the root with `chroot ROOT sh -s < rhel-model.sh`, as root, without network.
set -eu

# ---- os-release --------------------------------------------------------------------------------
cat > /usr/lib/os-release <<'EOF'
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
EOF
ln -sf ../usr/lib/os-release /etc/os-release
echo "Rocky Linux release 9.4 (Blue Onyx)" > /etc/redhat-release
rm -f /etc/debian_version

# ---- rpm database and a local dnf repository ----------------------------------------------------
# Empty packages standing for RHEL's: the files they would carry are Debian's, already here.
build=$(mktemp -d)
mkdir -p "$build/SPECS" /srv/repo
for pkg in nginx:1.20.1 postgresql:15.6 postgresql-server:15.6; do
  name=${pkg%%:*}
  version=${pkg#*:}
  cat > "$build/SPECS/$name.spec" <<EOF
Name: $name
Version: $version
Release: 1.el9
Summary: model of RHEL's $name for mm-install's tests
License: MIT
BuildArch: noarch
%description
Stands for Rocky Linux 9's $name in mm-install's RHEL-shaped test guest; the programs are Debian's.
%files
EOF
  rpmbuild --quiet -bb --define "_topdir $build" "$build/SPECS/$name.spec"
done
find "$build/RPMS" -name '*.rpm' -exec cp {} /srv/repo/ \;
rm -rf "$build"
createrepo_c --quiet /srv/repo
mkdir -p /etc/yum.repos.d /etc/dnf/vars
echo 9 > /etc/dnf/vars/releasever
cat > /etc/yum.repos.d/local.repo <<'EOF'
[local]
name=mm-install test guest: local repository
baseurl=file:///srv/repo
enabled=1
gpgcheck=0
EOF
dnf --quiet --assumeyes --setopt=install_weak_deps=False install nginx postgresql postgresql-server
rpm -q nginx postgresql postgresql-server

# ---- nginx, laid out like RHEL's ----------------------------------------------------------------
useradd --system --no-create-home --home-dir /var/lib/nginx --shell /sbin/nologin nginx
rm -rf /etc/nginx/sites-available /etc/nginx/sites-enabled
mkdir -p /etc/nginx/conf.d /etc/nginx/default.d /usr/share/nginx/html
echo "<html><body>RHEL-shaped test guest</body></html>" > /usr/share/nginx/html/index.html
# Rocky Linux 9's /etc/nginx/nginx.conf (nginx-core-1.20.1), the modules include adjusted to
# Debian's module directory.
cat > /etc/nginx/nginx.conf <<'EOF'
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log;
pid /run/nginx.pid;

include /etc/nginx/modules-enabled/*.conf;

events {
    worker_connections 1024;
}

http {
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile            on;
    tcp_nopush          on;
    keepalive_timeout   65;
    types_hash_max_size 4096;

    include             /etc/nginx/mime.types;
    default_type        application/octet-stream;

    # Load modular configuration files from the /etc/nginx/conf.d directory.
    include /etc/nginx/conf.d/*.conf;

    server {
        listen       80;
        listen       [::]:80;
        server_name  _;
        root         /usr/share/nginx/html;

        # Load configuration files for the default server block.
        include /etc/nginx/default.d/*.conf;

        error_page 404 /404.html;
        location = /404.html {
        }

        error_page 500 502 503 504 /50x.html;
        location = /50x.html {
        }
    }
}
EOF
chown -R nginx:nginx /var/lib/nginx /var/log/nginx
nginx -t -q

# ---- PostgreSQL, like postgresql-server after `postgresql-setup --initdb` -----------------------
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# No Debian cluster and no Debian units: one cluster, one postgresql.service, as on RHEL.
for cluster in /etc/postgresql/*/*; do
  [ -d "$cluster" ] && pg_dropcluster "$(basename "$(dirname "$cluster")")" "$(basename "$cluster")"
done
systemctl disable postgresql.service
update-rc.d -f postgresql remove >/dev/null
rm -f /etc/init.d/postgresql
ln -sf "$bin/postgres" /usr/bin/postgres
ln -sf "$bin/initdb" /usr/bin/initdb
mkdir -p /var/lib/pgsql
chown postgres:postgres /var/lib/pgsql
# postgresql-setup's initdb: peer for local sockets, ident for TCP (its PGSETUP_INITDB_OPTIONS
# default), UTF8.
runuser -u postgres -- initdb --pgdata=/var/lib/pgsql/data --auth-local=peer --auth-host=ident \
  --encoding=UTF8 --locale=C.UTF-8 >/dev/null
# Where RHEL's build puts the sockets and logs.
cat >> /var/lib/pgsql/data/postgresql.conf <<'EOF'
port = 5432
unix_socket_directories = '/run/postgresql, /tmp'
logging_collector = on
log_directory = 'log'
EOF
echo 'd /run/postgresql 0755 postgres postgres -' > /usr/lib/tmpfiles.d/postgresql-rhel.conf
# Rocky Linux 9's postgresql.service (postgresql-server-15), without the pre-start data check.
cat > /etc/systemd/system/postgresql.service <<'EOF'
[Unit]
Description=PostgreSQL database server
After=network.target

[Service]
Type=notify
User=postgres
Group=postgres
OOMScoreAdjust=-1000
Environment=PG_OOM_ADJUST_FILE=/proc/self/oom_score_adj
Environment=PG_OOM_ADJUST_VALUE=0
Environment=PGDATA=/var/lib/pgsql/data
RuntimeDirectory=postgresql
RuntimeDirectoryPreserve=yes
ExecStart=/usr/bin/postgres -D ${PGDATA}
ExecReload=/bin/kill -HUP $MAINPID
KillMode=mixed
KillSignal=SIGINT
TimeoutSec=0

[Install]
WantedBy=multi-user.target
EOF
systemctl enable postgresql.service nginx.service firewalld.service
