"""The app starts over the demo county and every demo account reaches its home page."""
import pytest

from app.services.demo import ACCOUNTS


def test_login_page_is_chinese(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert "登录" in resp.get_data(as_text=True)


@pytest.mark.parametrize("username,role,unit", ACCOUNTS)
def test_every_demo_account_reaches_home(client, auth, username, role, unit):
    assert auth.login(username).status_code == 302
    resp = client.get("/")
    assert resp.status_code == 200
    assert 'id="home"' in resp.get_data(as_text=True)
