"""The stack config's namespace: every key of this project is `bitbucket-mirrors:<key>`."""

NAMESPACE = "bitbucket-mirrors"
