"""``Message``, ``Channel`` and ``Group`` as the 1.x reference documents them."""

from __future__ import annotations

from django.test import override_settings

from channels import Channel, Group, channel_layers
from channels.backends.memory import InMemoryChannelBackend
from channels.message import Message
from channels.test import ChannelTestCase

TWO_LAYERS = {
    "CHANNEL_LAYERS": {
        "default": {"BACKEND": "asgiref.inmemory.ChannelLayer", "ROUTING": []},
        "other": {"BACKEND": "asgiref.inmemory.ChannelLayer", "ROUTING": []},
    }
}


@override_settings(**TWO_LAYERS)
class MessageTests(ChannelTestCase):
    test_channel_aliases = ["default", "other"]

    def test_positional_channel_layer(self):
        layer = channel_layers["other"]
        message = Message({"reply_channel": "reply.x", "text": "hi"}, "websocket.receive", layer)
        self.assertIs(message.channel_layer, layer)
        self.assertEqual(message.channel.name, "websocket.receive")
        self.assertIs(message.channel.channel_layer, layer)
        self.assertIs(message.reply_channel.channel_layer, layer)
        message.reply_channel.send({"text": "back"})
        self.assertEqual(self.get_next_message("reply.x", alias="other")["text"], "back")
        self.assertIsNone(self.get_next_message("reply.x", alias="default"))

    def test_keyword_channel_layer_and_none_for_the_default(self):
        layer = channel_layers["other"]
        self.assertIs(Message({}, "x", channel_layer=layer).channel_layer, layer)
        default = Message({}, "x", None)
        self.assertIs(default.channel_layer, channel_layers["default"])
        self.assertIs(Message({}, "x").channel_layer, channel_layers["default"])
        self.assertIsNone(default.reply_channel)

    def test_message_is_a_mapping_of_its_content(self):
        message = Message({"text": "hi", "path": "/"}, "websocket.receive", None)
        self.assertEqual(message["text"], "hi")
        message["order"] = 3
        self.assertEqual(message.content["order"], 3)
        self.assertIn("order", message)
        self.assertEqual(sorted(message.keys()), ["order", "path", "text"])
        self.assertEqual(sorted(message.items()), [("order", 3), ("path", "/"), ("text", "hi")])
        self.assertEqual(sorted(message.values(), key=str), ["/", 3, "hi"])
        self.assertEqual(message.get("missing", "d"), "d")
        self.assertEqual(dict(message.items()), dict(message.content))
        del message["order"]
        self.assertNotIn("order", message.content)
        self.assertTrue(Message({}, "x"))  # empty content is still a message

    def test_copy_is_independent(self):
        message = Message({"nested": {"a": 1}}, "x", None)
        copied = message.copy()
        copied["nested"]["a"] = 2
        self.assertEqual(message["nested"]["a"], 1)
        self.assertIs(copied.channel_layer, message.channel_layer)

    def test_channel_and_group_take_a_layer(self):
        layer = channel_layers["other"]
        channel = Channel("some.channel", channel_layer=layer)
        self.assertIs(channel.channel_layer, layer)
        self.assertEqual(channel.alias, "other")
        channel.send({"v": 1})
        self.assertEqual(self.get_next_message("some.channel", alias="other")["v"], 1)

        group = Group("watchers", channel_layer=layer)
        self.assertIs(group.channel_layer, layer)
        group.add("member.a")
        group.send({"v": 2})
        self.assertEqual(self.get_next_message("member.a", alias="other")["v"], 2)
        self.assertEqual(channel_layers["default"].group_channels("watchers"), [])

        by_alias = Group("watchers", "other")
        self.assertIs(by_alias.channel_layer, layer)
        self.assertEqual(by_alias.channels(), ["member.a"])
        # Positional, as Channel(name, alias, channel_layer).
        self.assertIs(Channel("x", "default", layer).channel_layer, layer)
        self.assertIsInstance(Channel("x").channel_layer, InMemoryChannelBackend)
